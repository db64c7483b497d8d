/** Saves what a webview exports (tables and SVG figures as text, PNG figures as data URLs) where the user chooses. */
import * as vscode from 'vscode';
import { exportDialog } from '../../shared/export-dialog';
import type { ExportFormat } from '../../shared/protocol';
import { writeFileAtomic } from '../../core/fs-atomic';

export async function saveExport(format: ExportFormat, suggestedName: string, content: string): Promise<vscode.Uri | undefined> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const safeName = suggestedName.replace(/[^\w.+-]+/g, '_');
  // the dialog's title says what is saved (code-server's dialog shows nothing else about it)
  const target = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, safeName) : undefined,
    ...exportDialog(format),
  });
  if (!target) return undefined;
  const bytes = exportBytes(format, content);
  await writeFileAtomic(target.fsPath, bytes);
  void vscode.window.showInformationMessage(`Exported ${vscode.workspace.asRelativePath(target)}`);
  return target;
}

/** PNG arrives as a data URL from canvas.toDataURL(); text formats (CSV, Markdown, LaTeX, SVG) arrive as text. */
export function exportBytes(format: ExportFormat, content: string): Buffer {
  if (format === 'png') {
    const m = /^data:image\/png;base64,(.*)$/s.exec(content);
    if (!m) throw new Error('the figure did not arrive as a PNG data URL');
    return Buffer.from(m[1], 'base64');
  }
  return Buffer.from(content, 'utf8');
}
