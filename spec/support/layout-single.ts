process.env['SESSION_LAYOUT'] = 'single';
