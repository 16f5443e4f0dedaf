// Building DOM nodes. Text always goes in as text nodes (textContent / append of a
// string), never as HTML: agent output and repository contents must render as text.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function role(root, name) {
  return root.querySelector(`[data-role="${name}"]`);
}

// A link only for what the API guarantees is a GitHub repository; anything else is text.
export function repoLink(url) {
  const name = url.replace(/^https:\/\/github\.com\//, '').replace(/\.git$/, '');
  if (!/^https:\/\/github\.com\/[^/?#]+\/[^/?#]+$/.test(url)) return document.createTextNode(url);
  return el('a', { href: url, rel: 'noopener noreferrer', target: '_blank', text: name });
}
