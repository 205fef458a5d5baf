/**
 * A TypeScript tokenizer just good enough to match brackets (private to tests/architecture):
 * strings, template text, comments and regular expressions become single tokens or vanish, so
 * a brace inside them never counts. Code inside a template's `${}` is tokenized as code.
 */

export interface Token {
  kind: "ident" | "punct" | "string" | "template" | "regex" | "number";
  text: string;
  line: number;
}

/** A template literal spanning more than one line: its lines and the token index it starts at. */
export interface MultiLineTemplate {
  startLine: number;
  endLine: number;
  at: number;
}

/** After these words, a `/` starts a regular expression rather than a division. */
const BEFORE_REGEX_WORDS = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

/** Splits `src` into tokens (each template literal is one `template` token at its end). */
export function tokenize(src: string): { tokens: Token[]; templates: MultiLineTemplate[] } {
  const t = new Tokenizer(src);
  t.run();
  return { tokens: t.tokens, templates: t.templates };
}

class Tokenizer {
  readonly tokens: Token[] = [];
  readonly templates: MultiLineTemplate[] = [];
  #src: string;
  #i = 0;
  #line = 1;
  /** One entry per open `{`: true when it is a template's `${`. */
  #braces: boolean[] = [];
  /** Start line and token index of each template being read (nested through `${}`). */
  #open: { line: number; at: number }[] = [];

  constructor(src: string) {
    this.#src = src;
  }

  run(): void {
    const src = this.#src;
    while (this.#i < src.length) {
      const c = src[this.#i];
      const next = src[this.#i + 1];
      if (c === "\n" || c === " " || c === "\t" || c === "\r") this.#advance(this.#i + 1);
      else if (c === "/" && next === "/") this.#skipTo("\n", 0);
      else if (c === "/" && next === "*") this.#skipTo("*/", 2);
      else if (c === "'" || c === '"') this.#string(c);
      else if (c === "`") {
        this.#open.push({ line: this.#line, at: this.tokens.length });
        this.#advance(this.#i + 1);
        this.#template();
      } else if (c === "/" && regexAllowed(this.tokens[this.tokens.length - 1])) this.#regex();
      else if (/[A-Za-z_$#\d]/.test(c)) this.#word(c);
      else if (c === "=" && next === ">") this.#punct("=>");
      else if (c === "}" && this.#braces[this.#braces.length - 1] === true) {
        this.#braces.pop();
        this.#advance(this.#i + 1);
        this.#template();
      } else {
        if (c === "{") this.#braces.push(false);
        if (c === "}") this.#braces.pop();
        this.#punct(c);
      }
    }
  }

  #advance(to: number): void {
    for (; this.#i < to; this.#i++) if (this.#src[this.#i] === "\n") this.#line++;
  }

  #push(kind: Token["kind"], text: string, line: number): void {
    this.tokens.push({ kind, text, line });
  }

  #punct(text: string): void {
    this.#push("punct", text, this.#line);
    this.#advance(this.#i + text.length);
  }

  /** Skips a comment up to `end` (kept when `keep` is 0: the newline of a line comment). */
  #skipTo(end: string, keep: number): void {
    const at = this.#src.indexOf(end, this.#i + 2);
    this.#advance(at === -1 ? this.#src.length : at + keep);
  }

  #string(quote: string): void {
    const src = this.#src;
    const start = this.#line;
    let j = this.#i + 1;
    while (j < src.length && src[j] !== quote && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
    this.#advance(j + 1);
    this.#push("string", quote, start);
  }

  #regex(): void {
    const src = this.#src;
    const start = this.#line;
    let j = this.#i + 1;
    let inClass = false;
    for (; j < src.length && src[j] !== "\n"; j++) {
      if (src[j] === "\\") j++;
      else if (src[j] === "[") inClass = true;
      else if (src[j] === "]") inClass = false;
      else if (src[j] === "/" && !inClass) break;
    }
    j++;
    while (j < src.length && /[a-z]/i.test(src[j])) j++;
    this.#advance(j);
    this.#push("regex", "/", start);
  }

  #word(first: string): void {
    const src = this.#src;
    let j = this.#i + 1;
    while (j < src.length && /[\w$]/.test(src[j])) j++;
    this.#push(/\d/.test(first) ? "number" : "ident", src.slice(this.#i, j), this.#line);
    this.#advance(j);
  }

  /** Reads template text from after "`" or a `${}`'s `}`, up to the next `${` or the end. */
  #template(): void {
    const src = this.#src;
    while (this.#i < src.length) {
      const c = src[this.#i];
      if (c === "\\") this.#advance(this.#i + 2);
      else if (c === "`") {
        this.#advance(this.#i + 1);
        const t = this.#open.pop()!;
        this.#push("template", "`", t.line);
        if (this.#line > t.line) {
          this.templates.push({ startLine: t.line, endLine: this.#line, at: t.at });
        }
        return;
      } else if (c === "$" && src[this.#i + 1] === "{") {
        this.#advance(this.#i + 2);
        this.#braces.push(true);
        return;
      } else this.#advance(this.#i + 1);
    }
  }
}

function regexAllowed(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === "ident") return BEFORE_REGEX_WORDS.has(prev.text);
  if (prev.kind === "punct") return ![")", "]", "}"].includes(prev.text);
  return false;
}
