// The staff scripts' strings, from the same gettext catalogues as the templates (docs/i18n.md).
// Write `_("Take next")`, `_("Unit %(id)s", {id})` or `ngettext("%(num)s alarm", "%(num)s
// alarms", n)` with the English in a plain string literal: `scripts/i18n.py extract` finds
// them there. The page carries its language's translations of these strings in a JSON block,
// <script type="application/json" id="i18n-catalogue"> (base.html; the CSP forbids inline
// scripts); a string it does not translate, or a page without the block, shows the English.

const SOURCE = { lang: "en", plural: "(n != 1)", messages: {} };
let loaded = null;

function catalogue() {
  if (loaded) return loaded;
  let data = SOURCE;
  const block = typeof document === "undefined" ? null : document.getElementById("i18n-catalogue");
  if (block) {
    try {
      data = { ...SOURCE, ...JSON.parse(block.textContent || "{}") };
    } catch {
      data = SOURCE; // a broken block: English rather than no console
    }
  }
  loaded = {
    lang: typeof data.lang === "string" ? data.lang : "en",
    messages: data.messages && typeof data.messages === "object" ? data.messages : {},
    plural: pluralRule(String(data.plural)),
  };
  return loaded;
}

/** The page's language ("en" when it carries no catalogue). */
export function language() {
  return catalogue().lang;
}

/** `%(name)s` replaced by values[name], `%%` by `%`, as Python's %-formatting does. A name
 * missing from values stays as it is. Without values the message is returned unchanged. */
export function format(message, values) {
  if (!values) return message;
  return message.replace(/%\((\w+)\)s|%%/g, (whole, name) => {
    if (name === undefined) return "%";
    return Object.hasOwn(values, name) ? String(values[name]) : whole;
  });
}

/** The translation of an English message in the page's language, formatted with values. */
export function _(message, values) {
  const text = catalogue().messages[message];
  return format(typeof text === "string" && text ? text : message, values);
}

export { _ as gettext };

/** The plural form for count n (a number), formatted with values and `num` = n. */
export function ngettext(singular, plural, n, values) {
  const { messages, plural: rule } = catalogue();
  const forms = messages[singular];
  const all = { num: n, ...(values || {}) };
  if (Array.isArray(forms) && forms.length) {
    const index = rule(n);
    const text = forms[index >= 0 && index < forms.length ? index : forms.length - 1];
    if (typeof text === "string" && text) return format(text, all);
  }
  return format(n === 1 ? singular : plural, all);
}

/** Marks a constant for extraction where it is defined; translate it with _() where shown. */
export function N_(message) {
  return message;
}

// A gettext Plural-Forms expression ("n == 1 ? 0 : n % 10 >= 2 && ... ? 1 : 2") read by a small
// parser, never by eval (the CSP forbids it): C's ternary, || && == != < > <= >= + - * / % !
// and parentheses over n and integers. Anything else gives English's rule.
export function pluralRule(expression) {
  const tokens = String(expression).match(/\s*(\d+|n|\|\||&&|==|!=|<=|>=|[<>?:()+\-*/%!]|\S)/g) || [];
  const list = tokens.map((t) => t.trim());
  let at = 0;
  const peek = () => list[at];
  const take = (token) => {
    if (list[at] !== token) throw new Error(`plural rule: expected ${token} at ${at}`);
    at += 1;
  };
  const binary = (next, operators) => () => {
    let left = next();
    while (operators[peek()]) {
      const apply = operators[list[at++]];
      const l = left;
      const r = next();
      left = (n) => apply(l(n), r(n));
    }
    return left;
  };
  let ternary;
  const primary = () => {
    const token = list[at++];
    if (token === "n") return (n) => n;
    if (token !== undefined && /^\d+$/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === "(") {
      const inner = ternary();
      take(")");
      return inner;
    }
    throw new Error(`plural rule: unexpected ${token}`);
  };
  const unary = () => {
    if (peek() === "!") {
      at += 1;
      const operand = unary();
      return (n) => Number(!operand(n));
    }
    return primary();
  };
  const mul = binary(unary, {
    "*": (a, b) => a * b,
    "/": (a, b) => Math.trunc(a / b),
    "%": (a, b) => a % b,
  });
  const add = binary(mul, { "+": (a, b) => a + b, "-": (a, b) => a - b });
  const rel = binary(add, {
    "<": (a, b) => Number(a < b),
    ">": (a, b) => Number(a > b),
    "<=": (a, b) => Number(a <= b),
    ">=": (a, b) => Number(a >= b),
  });
  const eq = binary(rel, { "==": (a, b) => Number(a === b), "!=": (a, b) => Number(a !== b) });
  const and = binary(eq, { "&&": (a, b) => Number(Boolean(a && b)) });
  const or = binary(and, { "||": (a, b) => Number(Boolean(a || b)) });
  ternary = () => {
    const condition = or();
    if (peek() !== "?") return condition;
    at += 1;
    const yes = ternary();
    take(":");
    const no = ternary();
    return (n) => (condition(n) ? yes(n) : no(n));
  };
  try {
    const rule = ternary();
    if (at !== list.length) throw new Error("plural rule: trailing tokens");
    return (n) => Number(rule(Math.abs(Math.trunc(Number(n)) || 0)));
  } catch {
    return (n) => Number(n !== 1);
  }
}
