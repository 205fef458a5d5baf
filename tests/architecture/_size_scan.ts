/**
 * Measures a TypeScript file without a compiler: its line count, every function's length (from
 * its opening to its closing brace), and every multi-line template literal (embedded scripts).
 *
 * The tokenizer (`_ts_tokens.ts`) skips strings, template text, comments and regular
 * expressions, so braces inside them never count. A `{` opens a function body when it follows `=>`, or a parameter list
 * (optionally with a return type) that does not belong to `if`/`for`/`while`/`switch`/`catch`.
 * An expression-bodied arrow runs to the `,` or `;` that ends it, or the bracket that encloses
 * it. Names are qualified by their enclosing classes and functions (`Class.method.<arrow>`).
 * Relies on what `deno fmt` guarantees: semicolons, balanced brackets. An arrow in a type
 * annotation counts as a function up to the end of its declaration, which can only overstate.
 */

import { type Token, tokenize } from "./_ts_tokens.ts";

/** A function or literal found by {@link scanSource}; lines are 1-based and inclusive. */
export interface Span {
  name: string;
  startLine: number;
  endLine: number;
  lines: number;
}

export interface SourceSize {
  lines: number;
  functions: Span[];
  /** Template literals spanning more than one line, named after the binding that holds them. */
  literals: Span[];
}

function span(startLine: number, endLine: number): Omit<Span, "name"> {
  return { startLine, endLine, lines: endLine - startLine + 1 };
}

const CONTROL = new Set(["if", "for", "while", "switch", "catch", "with"]);

/** `NAME` of `const NAME = <token at>` (or `NAME: ...`), else `<literal>`. */
function bindingName(tokens: Token[], at: number): string {
  const eq = tokens[at - 1];
  const name = tokens[at - 2];
  if (eq && name && (eq.text === "=" || eq.text === ":") && name.kind === "ident") return name.text;
  return "<literal>";
}

/** Index of the `(` matching the `)` at `close`. */
function openingParen(tokens: Token[], close: number): number {
  let depth = 0;
  for (let j = close; j >= 0; j--) {
    if (tokens[j].kind !== "punct") continue;
    if (tokens[j].text === ")") depth++;
    else if (tokens[j].text === "(" && --depth === 0) return j;
  }
  return -1;
}

/** The name before a parameter list opening at `open` (skipping `<T>`), or null for control. */
function calleeName(tokens: Token[], open: number): string | null {
  let j = open - 1;
  if (tokens[j]?.text === ">") {
    let depth = 0;
    for (; j >= 0; j--) {
      if (tokens[j].text === ">") depth++;
      else if (tokens[j].text === "<" && --depth === 0) break;
    }
    j--;
  }
  const t = tokens[j];
  if (!t) return "<function>";
  if (t.text === "await" && tokens[j - 1]?.text === "for") return null;
  if (CONTROL.has(t.text)) return null;
  if (t.text === "function") return "<function>";
  return t.kind === "ident" ? t.text : "<function>";
}

/**
 * The name of an arrow whose `=>` is at `arrow` (its parameters open at `paramsAt` when a return
 * type stands between): its binding, or `<arrow>`.
 */
function arrowName(tokens: Token[], arrow: number, paramsAt?: number): string {
  let j = paramsAt ?? arrow - 1;
  if (paramsAt === undefined && tokens[j]?.text === ")") j = openingParen(tokens, j);
  j--;
  if (tokens[j]?.text === "async") j--;
  if (tokens[j]?.text === "=" || tokens[j]?.text === ":") {
    const name = tokens[j - 1];
    if (name?.kind === "ident") return name.text;
  }
  return "<arrow>";
}

/**
 * After a `)` at `close` followed by `:`, what ends the return type: the `{` of a body, or the
 * `=>` of an arrow; null when this is no function (a ternary, an interface member).
 */
function afterReturnType(tokens: Token[], close: number): { at: number; arrow: boolean } | null {
  let depth = 0;
  let braces = 0;
  for (let j = close + 2; j < tokens.length; j++) {
    const t = tokens[j];
    if (t.kind !== "punct") continue;
    // Only an object type holds a `;`; anywhere else it ends the statement.
    if (t.text === ";" && braces === 0) return null;
    if (t.text === "{") braces++;
    else if (t.text === "}") braces--;
    if (depth === 0 && t.text === "{") {
      const prev = tokens[j - 1];
      const endsType = prev.kind !== "punct" || [">", "]", ")", "}"].includes(prev.text);
      if (endsType && j - 1 > close + 1) return { at: j, arrow: false };
    }
    if (depth === 0 && t.text === "=>" && tokens[j + 1]?.text === "{") {
      return { at: j, arrow: true };
    }
    if ("([{<".includes(t.text)) depth++;
    else if (")]}>".includes(t.text)) {
      if (--depth < 0) return null;
    } else if (depth === 0 && (t.text === "," || t.text === "=")) return null;
  }
  return null;
}

interface Scope {
  /** Set for functions and classes: their qualified name, the prefix of nested names. */
  name: string | null;
  isFunction: boolean;
  startLine: number;
}

interface ExprArrow {
  depth: number;
  name: string;
  startLine: number;
  lastLine: number;
}

/** Line count, functions and multi-line literals of one TypeScript source text. */
export function scanSource(src: string): SourceSize {
  const { tokens, templates } = tokenize(src);
  const functions = new FunctionScan(tokens).run();
  const literals = templates.map((t) => ({
    name: bindingName(tokens, t.at),
    ...span(t.startLine, t.endLine),
  }));
  const lines = src.endsWith("\n") ? src.split("\n").length - 1 : src.split("\n").length;
  return { lines, functions, literals };
}

/** One pass over the tokens with a bracket stack; see the module comment. */
class FunctionScan {
  #tokens: Token[];
  #functions: Span[] = [];
  #stack: Scope[] = [];
  /** Body `{` indices found past a return type, with their function's name. */
  #bodies = new Map<number, string>();
  /** `=>` indices found past a return type, with where their parameters open. */
  #arrowParams = new Map<number, number>();
  #arrows: ExprArrow[] = [];
  #pendingClass: { name: string; depth: number } | null = null;
  /** Index of the body `{` while reading a return type (whose `=>` are types, not arrows). */
  #returnTypeEnd = -1;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  run(): Span[] {
    const tokens = this.#tokens;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.kind === "ident" && t.text === "class" && tokens[i - 1]?.text !== ".") {
        const n = tokens[i + 1];
        const name = n?.kind === "ident" && n.text !== "extends" ? n.text : "<class>";
        this.#pendingClass = { name, depth: this.#stack.length };
      }
      if (t.kind === "punct") this.#punct(i, t);
      for (const a of this.#arrows) a.lastLine = Math.max(a.lastLine, t.line);
    }
    this.#endArrows(0);
    return this.#functions;
  }

  #punct(i: number, t: Token): void {
    const tokens = this.#tokens;
    if (t.text === ")" && tokens[i + 1]?.text === ":") this.#returnType(i);
    if (t.text === "{" || t.text === "(" || t.text === "[") this.#opening(i, t);
    else if (t.text === "}" || t.text === ")" || t.text === "]") {
      this.#endArrows(this.#stack.length);
      const scope = this.#stack.pop();
      if (scope?.isFunction) {
        this.#functions.push({ name: scope.name!, ...span(scope.startLine, t.line) });
      }
    } else if (t.text === "," || t.text === ";") this.#endArrows(this.#stack.length);
    else if (t.text === "=>" && tokens[i + 1]?.text !== "{" && i > this.#returnTypeEnd) {
      const name = this.#qualified(arrowName(tokens, i));
      this.#arrows.push({ depth: this.#stack.length, name, startLine: t.line, lastLine: t.line });
    }
  }

  /** A `)` followed by `:`: when a body or arrow follows the return type, remember where. */
  #returnType(close: number): void {
    const open = openingParen(this.#tokens, close);
    const found = open < 0 ? null : afterReturnType(this.#tokens, close);
    if (!found) return;
    this.#returnTypeEnd = found.at;
    if (found.arrow) this.#arrowParams.set(found.at, open);
    else {
      const name = calleeName(this.#tokens, open);
      if (name !== null) this.#bodies.set(found.at, name);
    }
  }

  #opening(i: number, t: Token): void {
    const prev = this.#tokens[i - 1];
    let name: string | null = null;
    let isFunction = false;
    if (t.text === "{") {
      if (this.#pendingClass && this.#pendingClass.depth === this.#stack.length) {
        name = this.#pendingClass.name;
        this.#pendingClass = null;
      } else if (prev?.text === "=>") {
        name = arrowName(this.#tokens, i - 1, this.#arrowParams.get(i - 1));
        isFunction = true;
      } else if (this.#bodies.has(i)) {
        name = this.#bodies.get(i)!;
        isFunction = true;
      } else if (prev?.text === ")") {
        const open = openingParen(this.#tokens, i - 1);
        name = open >= 0 ? calleeName(this.#tokens, open) : null;
        isFunction = name !== null;
      }
    }
    if (isFunction) name = this.#qualified(name!);
    this.#stack.push({ name, isFunction, startLine: t.line });
  }

  #qualified(name: string): string {
    const outer = this.#stack.findLast((s) => s.name !== null);
    return outer ? `${outer.name}.${name}` : name;
  }

  /** Ends the expression-bodied arrows at `depth` or deeper, at the last token they hold. */
  #endArrows(depth: number): void {
    const arrows = this.#arrows;
    const endLine = arrows[arrows.length - 1]?.lastLine ?? 0;
    while (arrows.length && arrows[arrows.length - 1].depth >= depth) {
      const a = arrows.pop()!;
      this.#functions.push({ name: a.name, ...span(a.startLine, endLine) });
    }
  }
}
