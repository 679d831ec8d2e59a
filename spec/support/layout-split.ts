process.env['SESSION_LAYOUT'] = 'split';
