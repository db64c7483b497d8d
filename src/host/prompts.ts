/**
 * The questions a command's flow asks (Run Baseline…, Run Fine-tune…): VS Code's quick picks, input boxes and open
 * dialogs by default; host tests pass a script that answers them and records what was asked.
 */
import * as vscode from 'vscode';

export interface Prompts {
  pick<T extends vscode.QuickPickItem>(items: T[], options: vscode.QuickPickOptions): Thenable<T | undefined>;
  input(options: vscode.InputBoxOptions): Thenable<string | undefined>;
  open(options: vscode.OpenDialogOptions): Thenable<vscode.Uri[] | undefined>;
}

/**
 * A flow's questions stay open when the focus moves (ignoreFocusOut): a walkthrough that marks its step done as
 * the flow starts takes the focus, and a click elsewhere must not throw away the answers given so far (Escape
 * still cancels).
 */
export const windowPrompts: Prompts = {
  pick: (items, options) => vscode.window.showQuickPick(items, { ignoreFocusOut: true, ...options }),
  input: options => vscode.window.showInputBox({ ignoreFocusOut: true, ...options }),
  open: options => vscode.window.showOpenDialog(options),
};

/** One number typed by the user, checked by `ok`; undefined when the box was dismissed. */
export async function askNumber(prompts: Prompts, title: string, prompt: string, value: string, ok: (v: number) => boolean): Promise<number | undefined> {
  const text = await prompts.input({ title, prompt, value, validateInput: v => (v.trim() !== '' && ok(Number(v)) ? undefined : 'not a valid value') });
  return text === undefined ? undefined : Number(text);
}

/** Comma-separated numbers, each checked by `ok`, without repeats; undefined when the box was dismissed. */
export async function askList(prompts: Prompts, title: string, prompt: string, value: string, ok: (v: number) => boolean): Promise<number[] | undefined> {
  const parse = (v: string) => v.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const text = await prompts.input({
    title, prompt, value,
    validateInput: v => { const xs = parse(v); return xs.length && xs.every(x => Number.isFinite(x) && ok(x)) ? undefined : 'comma-separated valid numbers'; },
  });
  return text === undefined ? undefined : Array.from(new Set(parse(text)));
}
