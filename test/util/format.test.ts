import { fmt, formatDuration } from '../../src/util/format';

test('fmt: 3 significant digits, exponent form when small or large', () => {
  expect(fmt(0.123456)).toBe('0.123');
  expect(fmt(12345)).toBe('12300');
  expect(fmt(123456)).toBe('1.23e+5');
  expect(fmt(0.0001234)).toBe('1.23e-4');
  expect(fmt(0)).toBe('0');
  expect(fmt(NaN)).toBe('NaN');
});

test('formatDuration: seconds, minutes, hours, days; ? when unknown', () => {
  expect(formatDuration(7.25)).toBe('7.3 s');
  expect(formatDuration(15)).toBe('15.0 s');
  expect(formatDuration(245)).toBe('4 min 05 s');
  expect(formatDuration(3599.7)).toBe('1 h 00 min');
  expect(formatDuration(7380)).toBe('2 h 03 min');
  expect(formatDuration(3 * 86400)).toBe('3 days');
  expect(formatDuration(Infinity)).toBe('?');
  expect(formatDuration(-1)).toBe('0.0 s');
});
