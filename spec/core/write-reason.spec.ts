import { WriteFacts, writeReason } from '../../lib/core/write-reason';
import { touchStep } from '../../lib/core/expiry';

const quiet: WriteFacts = { changed: false, principalChanged: false, intervalChanged: false, forced: false, deadlineMovedBy: 0, touchStep: 60 };

describe('writeReason: why a commit writes to a stored session', () => {
  it.each<[string, Partial<WriteFacts>, ReturnType<typeof writeReason>]>([
    ['nothing changed, deadline barely moved', {}, undefined],
    ['deadline moved less than the touch step', { deadlineMovedBy: 59 }, undefined],
    ['deadline moved by the touch step', { deadlineMovedBy: 60 }, 'touch'],
    ['touch() called', { forced: true }, 'forced'],
    ['idle timeout changed', { intervalChanged: true }, 'interval'],
    ['principal changed', { principalChanged: true }, 'principal'],
    ['attributes changed', { changed: true }, 'changed'],
    ['attributes changed wins over every other reason', { changed: true, principalChanged: true, intervalChanged: true, forced: true, deadlineMovedBy: 999 }, 'changed'],
    ['principal wins over interval and touch', { principalChanged: true, intervalChanged: true, forced: true }, 'principal'],
    ['a zero touch step writes on every request', { touchStep: 0 }, 'touch'],
  ])('%s', (_name, facts, expected) => {
    expect(writeReason({ ...quiet, ...facts })).toBe(expected);
  });
});

describe('touchStep: touch throttling scales with the session’s own idle timeout', () => {
  it.each([
    [60, 1800, 60],
    [30, 3, 1],
    [30, 1, 0],
    [0, 1800, 0],
    [60, 100, 50],
  ])('touchAfter %i with an interval of %i s touches every %i s', (touchAfter, interval, expected) => {
    expect(touchStep(touchAfter, interval)).toBe(expected);
  });
});
