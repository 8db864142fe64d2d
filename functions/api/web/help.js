// The staff guide (docs/staff-guide.zh-TW.md, served beside the pages),
// shown as a page: the markdown it is written in, turned into elements —
// headings, paragraphs, lists, tables, anchors, links within the guide,
// **bold** and `code` — by building nodes, never by parsing HTML. The
// section the link names is scrolled to once the guide is there.

const GUIDE = "/web/staff-guide.zh-TW.md";

/** Inline text: `code`, **bold** and [links](#section), the rest as text. */
function inline(text) {
  const out = document.createDocumentFragment();
  for (const part of text.split(/(`[^`]+`|\*\*[^*]+\*\*|\[[^\]]+\]\(#[a-z-]+\))/)) {
    if (!part) continue;
    const link = part.match(/^\[([^\]]+)\]\((#[a-z-]+)\)$/);
    if (link) {
      const a = document.createElement("a");
      a.href = link[2];
      a.textContent = link[1];
      out.append(a);
    } else if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
      const code = document.createElement("code");
      code.textContent = part.slice(1, -1);
      out.append(code);
    } else if (part.startsWith("**") && part.endsWith("**") && part.length > 3) {
      const strong = document.createElement("strong");
      strong.textContent = part.slice(2, -2);
      out.append(strong);
    } else {
      out.append(document.createTextNode(part.replace(/\\(.)/g, "$1")));
    }
  }
  return out;
}

/** A table row's cells: split on `|` not escaped or inside `code`. */
function cells(line) {
  const out = [];
  let cell = "", inCode = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && line[i + 1] === "|") { cell += "|"; i++; continue; }
    if (c === "`") inCode = !inCode;
    if (c === "|" && !inCode) { out.push(cell.trim()); cell = ""; continue; }
    cell += c;
  }
  out.push(cell.trim());
  return out.slice(1, -1);
}

/** The guide's markdown as elements. */
export function render(markdown) {
  const out = document.createDocumentFragment();
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const anchor = line.match(/^<a id="([a-z-]+)"><\/a>$/);
    const heading = line.match(/^(#{1,3}) (.*)$/);
    if (anchor) {
      const a = document.createElement("a");
      a.id = anchor[1];
      out.append(a);
    } else if (heading) {
      const h = document.createElement(`h${heading[1].length}`);
      h.append(inline(heading[2]));
      out.append(h);
    } else if (line.startsWith("- ")) {
      const ul = document.createElement("ul");
      while (i < lines.length && lines[i].startsWith("- ")) {
        const li = document.createElement("li");
        li.append(inline(lines[i].slice(2)));
        ul.append(li);
        i++;
      }
      i--;
      out.append(ul);
    } else if (line.startsWith("|")) {
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const cell of cells(line)) {
        const th = document.createElement("th");
        th.scope = "col";
        th.append(inline(cell));
        head.append(th);
      }
      const body = table.createTBody();
      i += 2; // the header's separator
      while (i < lines.length && lines[i].startsWith("|")) {
        const row = body.insertRow();
        for (const cell of cells(lines[i])) row.insertCell().append(inline(cell));
        i++;
      }
      i--;
      const wrap = document.createElement("div");
      wrap.className = "table-wrap";
      wrap.append(table);
      out.append(wrap);
    } else if (line.trim()) {
      const p = document.createElement("p");
      p.append(inline(line));
      out.append(p);
    }
  }
  return out;
}

async function show() {
  const main = document.getElementById("guide");
  try {
    const response = await fetch(GUIDE);
    if (!response.ok) throw new Error(String(response.status));
    main.replaceChildren(render(await response.text()));
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  } catch (error) {
    main.replaceChildren(Object.assign(document.createElement("p"), {
      textContent: `無法讀取使用說明（${error.message}），請稍後再試。`,
    }));
  }
}

show();
