// A hostile layer for signature-artifact tests: one file that is at once a JSON object and a tar archive (an old V7
// header made only of characters a JSON string may hold, so every tar reader unpacks `{"a":"ppp…` with a script in
// it, while JSON.parse reads `{"a": "…"}`).
const block = 512;

export function jsonTarPolyglot(content = 'echo pwned'): Buffer {
  const h = Buffer.alloc(block, 'x');
  h.write(`{"a":"${'p'.repeat(94)}`, 0, 100, 'latin1');
  h.write('0000755 ', 100, 'latin1');
  h.write('0000000 ', 108, 'latin1');
  h.write('0000000 ', 116, 'latin1');
  h.write(`${content.length.toString(8).padStart(11, '0')} `, 124, 'latin1');
  h.write('00000000000 ', 136, 'latin1');
  h.write(' '.repeat(8), 148, 'latin1');
  h.write('0', 156, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(7, '0')} `, 148, 'latin1');
  const body = Buffer.alloc(block, ' ');
  body.write(content, 0, 'latin1');
  body.write('"}', block - 2, 'latin1');
  return Buffer.concat([h, body]);
}
