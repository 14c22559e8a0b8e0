/**
 * Every secret the run holds. Each is masked in the runner's log the moment it is learnt, and cut
 * out of any text the action passes on from a server, which may echo what it was sent.
 */
export class Secrets {
  private readonly values: string[] = [];

  constructor(private readonly mask: (secret: string) => void) {}

  add(secret: string): void {
    if (secret === '' || this.values.includes(secret)) return;
    this.mask(secret);
    this.values.push(secret);
    // Longest first, so a secret that contains another is cut out whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  /** The text with every secret replaced by ***; done before any cut or reflow of the text. */
  redact(text: string): string {
    return this.values.reduce((t, secret) => t.split(secret).join('***'), text);
  }

  /**
   * The head of a longer text, redacted. Unless it is the whole text, its last characters are
   * dropped too: they could be the start of a secret that the cut split.
   */
  redactHead(head: string, whole: boolean): string {
    const redacted = this.redact(head);
    const longest = this.values[0]?.length ?? 0;
    return whole || longest === 0
      ? redacted
      : redacted.slice(0, Math.max(0, redacted.length - longest + 1));
  }
}

/** Why a credential cannot be sent in an HTTP header, or undefined when it can. */
export function unsendable(credential: string): string | undefined {
  if (/\p{Cc}/u.test(credential)) {
    return 'contains a control character (a line break or tab, perhaps from copying it)';
  }
  if (/[^\x20-\x7e]/.test(credential)) {
    return 'contains a character outside printable ASCII, which an HTTP header cannot carry';
  }
  return undefined;
}
