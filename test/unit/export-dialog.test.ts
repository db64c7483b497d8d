/** The save dialog of an export says what it saves: a title per format (it was blank) and the format's filter. */
import * as assert from 'assert';
import { exportDialog } from '../../src/shared/export-dialog';

describe('export save dialog', () => {
  it('titles each format with what is saved', () => {
    assert.deepStrictEqual(exportDialog('md'), { title: 'Export the table as Markdown', filters: { Markdown: ['md'] }, saveLabel: 'Export' });
    assert.strictEqual(exportDialog('csv').title, 'Export the table as CSV');
    assert.strictEqual(exportDialog('tex').title, 'Export the table as LaTeX');
    assert.strictEqual(exportDialog('png').title, 'Export the figure as PNG image');
    assert.deepStrictEqual(exportDialog('svg').filters, { 'SVG image': ['svg'] });
  });
});
