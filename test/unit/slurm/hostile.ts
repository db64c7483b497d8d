/** Words that break naive shell quoting: each must reach the program as exactly this string. */
export const HOSTILE = [
  'plain', 'with space', '', ' ', "it's", '"double"', '$HOME', '${PATH}', '$(touch /tmp/scwb-pwned)', '`id`', 'back\\slash',
  'line\nbreak', 'tab\there', '*', '~', '!bang', 'semi;colon', 'a|b&c', '<in>', '#hash', "'", "''", '\\', '-n', '--run-dir',
  'ünïcödé ✓', '\r\n', "x'\"$`\\\n",
];
