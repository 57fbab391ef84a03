// DOM helpers. User content only ever goes through textContent, never innerHTML.

export const $ = (id) => document.getElementById(id);

/** Create an element: el('div', 'cls', 'text') or el('a', {class, text, ...attributes}). */
export function el(tag, opts, text) {
  const node = document.createElement(tag);
  if (typeof opts === 'string') {
    node.className = opts;
  } else if (opts) {
    for (const [key, value] of Object.entries(opts)) {
      if (value == null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  if (text != null) node.textContent = String(text);
  return node;
}

/** A button that calls `onClick`; `label` is text. */
export function button(label, onClick, opts = {}) {
  const node = el('button', { type: 'button', ...opts }, label);
  node.addEventListener('click', onClick);
  return node;
}

let toastCount = 0;

/** A toast that goes away after `ms` (kept while hovered or focused). */
export function toast(title, body, { kind = '', ms = 6000 } = {}) {
  const box = $('toasts');
  const node = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', id: `toast-${++toastCount}` });
  node.append(el('b', null, title));
  if (body) node.append(el('p', null, body));
  node.append(button('×', () => node.remove(), { class: 'icon-btn', 'aria-label': '关闭' }));
  box.prepend(node);
  while (box.children.length > 4) box.lastChild.remove();
  let timer = setTimeout(() => node.remove(), ms);
  const hold = () => clearTimeout(timer);
  const release = () => { timer = setTimeout(() => node.remove(), ms / 2); };
  node.addEventListener('mouseenter', hold);
  node.addEventListener('focusin', hold);
  node.addEventListener('mouseleave', release);
  return node;
}
