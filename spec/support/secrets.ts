export const SECRET = 'spec-secret-0123456789abcdef0123456789abcdef';
export const OLD_SECRET = 'spec-old-secret-0123456789abcdef0123456789ab';
