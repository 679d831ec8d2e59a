/**
 * Builds an UpdateItem expression. Every attribute name goes through a
 * placeholder, so session attribute names never reach the expression text.
 */
export class UpdateExpressionBuilder {
  readonly names: Record<string, string> = {};
  // `unknown` rather than the SDK's NativeAttributeValue, which is `any` and would switch off checking of every caller.
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private nameCount = 0;
  private valueCount = 0;

  private readonly placeholders = new Map<string, string>();

  /** The same attribute always gets the same placeholder: DynamoDB rejects unused or duplicate names. */
  name(attribute: string): string {
    let placeholder = this.placeholders.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#n${this.nameCount++}`;
      this.placeholders.set(attribute, placeholder);
      this.names[placeholder] = attribute;
    }
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  set(path: string, value: unknown): this {
    this.sets.push(`${path} = ${this.value(value)}`);
    return this;
  }

  /** SET with an expression on the right, e.g. `#n0 + :v1` (operands are evaluated on the item before the update). */
  setTo(path: string, expression: string): this {
    this.sets.push(`${path} = ${expression}`);
    return this;
  }

  remove(path: string): this {
    this.removes.push(path);
    return this;
  }

  add(path: string, value: unknown): this {
    this.adds.push(`${path} ${this.value(value)}`);
    return this;
  }

  expression(): string {
    return [
      this.sets.length > 0 ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length > 0 ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length > 0 ? `ADD ${this.adds.join(', ')}` : '',
    ].filter(Boolean).join(' ');
  }
}
