// Renders /v1/openapi.json as HTML: no dependencies, no inline script.
"use strict";

(function () {
  var spec = null;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  // resolve follows a local $ref ("#/components/…").
  function resolve(o) {
    var seen = 0;
    while (o && o.$ref && seen++ < 20) {
      var parts = o.$ref.replace(/^#\//, "").split("/");
      var v = spec;
      parts.forEach(function (p) { v = v == null ? v : v[p.replace(/~1/g, "/").replace(/~0/g, "~")]; });
      o = v;
    }
    return o || {};
  }

  // prose renders the little Markdown the description uses: `code` and
  // **strong**, as text nodes (never as HTML).
  function prose(tag, text) {
    var e = el(tag);
    String(text).split(/(`[^`]+`|\*\*[^*]+\*\*)/).forEach(function (part) {
      if (/^`[^`]+`$/.test(part)) e.appendChild(el("code", { text: part.slice(1, -1) }));
      else if (/^\*\*[^*]+\*\*$/.test(part)) e.appendChild(el("strong", { text: part.slice(2, -2) }));
      else if (part) e.appendChild(document.createTextNode(part));
    });
    return e;
  }

  function refName(o) {
    return o && o.$ref ? o.$ref.split("/").pop() : "";
  }

  function typeOf(s) {
    var name = refName(s);
    var r = resolve(s);
    var t = Array.isArray(r.type) ? r.type.join(" | ") : (r.type || "any");
    if (t === "array" && r.items) t = "array of " + typeOf(r.items);
    if (r.type === "object" && r.additionalProperties && typeof r.additionalProperties === "object" && !r.properties) {
      t = "map of " + typeOf(r.additionalProperties);
    }
    if (r.format) t += " (" + r.format + ")";
    return name ? name + ": " + t : t;
  }

  // constraints lists a schema's limits in words.
  function constraints(s) {
    var r = resolve(s), out = [];
    if (r.enum) out.push("one of " + r.enum.map(function (v) { return JSON.stringify(v); }).join(", "));
    if (r.const !== undefined) out.push("= " + JSON.stringify(r.const));
    if (r.pattern) out.push("matches " + r.pattern);
    if (r.minimum !== undefined) out.push("≥ " + r.minimum);
    if (r.maximum !== undefined) out.push("≤ " + r.maximum);
    if (r.minLength !== undefined) out.push("length ≥ " + r.minLength);
    if (r.maxLength !== undefined) out.push("length ≤ " + r.maxLength);
    if (r.maxProperties !== undefined) out.push("at most " + r.maxProperties + " members");
    if (r.propertyNames && r.propertyNames.pattern) out.push("keys match " + r.propertyNames.pattern);
    if (r.default !== undefined) out.push("default " + JSON.stringify(r.default));
    return out.join("; ");
  }

  // schemaTable shows an object schema's members, nested objects indented.
  function schemaTable(s, depth) {
    depth = depth || 0;
    var r = resolve(s);
    if (r.type === "array" && r.items) r = resolve(r.items);
    var wrap = el("div");
    var desc = r.description || resolve(s).description;
    if (desc && depth === 0) wrap.appendChild(el("p", { class: "muted", text: desc }));
    if (!r.properties) {
      wrap.appendChild(el("p", {}, [el("code", { text: typeOf(s) }), " ", constraints(s)]));
      return wrap;
    }
    var req = r.required || [];
    var rows = Object.keys(r.properties).map(function (k) {
      var p = r.properties[k], pr = resolve(p);
      var nested = null;
      var inner = pr.type === "array" && pr.items ? resolve(pr.items) : pr;
      if (inner.properties && depth < 3) {
        nested = el("details", {}, [el("summary", { text: "members" }), schemaTable(p, depth + 1)]);
      }
      return el("tr", {}, [
        el("td", {}, [el("code", { text: k }), req.indexOf(k) >= 0 ? el("span", { class: "req", text: " *" }) : null]),
        el("td", {}, [el("code", { text: typeOf(p) })]),
        el("td", {}, [(p.description || pr.description || "") + (constraints(p) ? " (" + constraints(p) + ")" : ""), nested]),
      ]);
    });
    var extra = r.additionalProperties === false ? "no other members" : "";
    wrap.appendChild(el("table", {}, [
      el("thead", {}, [el("tr", {}, [el("th", { text: "member" }), el("th", { text: "type" }), el("th", { text: "notes" })])]),
      el("tbody", {}, rows),
    ]));
    if (extra) wrap.appendChild(el("p", { class: "muted", text: extra + "; * required" }));
    return wrap;
  }

  function content(c) {
    var out = [];
    Object.keys(c || {}).forEach(function (mt) {
      out.push(el("p", {}, [el("code", { text: mt })]));
      if (c[mt].schema) out.push(schemaTable(c[mt].schema));
    });
    return out;
  }

  function paramsTable(ps) {
    return el("table", {}, [
      el("thead", {}, [el("tr", {}, ["name", "in", "type", "notes"].map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", {}, ps.map(function (p) {
        p = resolve(p);
        return el("tr", {}, [
          el("td", {}, [el("code", { text: p.name }), p.required ? el("span", { class: "req", text: " *" }) : null]),
          el("td", { text: p.in }),
          el("td", {}, [el("code", { text: typeOf(p.schema) })]),
          el("td", { text: (p.description || "") + (constraints(p.schema) ? " (" + constraints(p.schema) + ")" : "") }),
        ]);
      })),
    ]);
  }

  function security(op) {
    var reqs = op.security || spec.security || [];
    if (reqs.length === 0) return "no authentication";
    var names = reqs.map(function (r) { var k = Object.keys(r); return k.length ? k.join(" + ") : "none"; });
    return "authentication: " + names.join(" or ");
  }

  function operation(path, method, op, id) {
    var box = el("section", { class: "op", id: id, "data-search": (method + " " + path + " " + (op.tags || []).join(" ") + " " + (op["x-argus-role"] || "")).toLowerCase() });
    box.appendChild(el("h3", {}, [
      el("span", { class: "method " + method, text: method }),
      el("span", { class: "path", text: path }),
      op["x-argus-role"] ? el("span", { class: "role", text: op["x-argus-role"] }) : null,
    ]));
    box.appendChild(el("p", {}, [el("strong", { text: op.summary || "" }), " ", el("span", { class: "muted", text: "(" + security(op) + ")" })]));
    if (op.description) box.appendChild(prose("p", op.description));
    var ps = (op.parameters || []);
    if (ps.length) {
      box.appendChild(el("h4", { text: "Parameters" }));
      box.appendChild(paramsTable(ps));
    }
    if (op.requestBody) {
      var rb = resolve(op.requestBody);
      box.appendChild(el("h4", { text: "Request body" + (rb.required ? " (required)" : "") }));
      content(rb.content).forEach(function (n) { box.appendChild(n); });
    }
    box.appendChild(el("h4", { text: "Responses" }));
    Object.keys(op.responses || {}).forEach(function (code) {
      var r = resolve(op.responses[code]);
      var d = el("details", {}, [el("summary", {}, [el("code", { text: code }), " " + (r.description || "")])]);
      Object.keys(r.headers || {}).forEach(function (h) {
        d.appendChild(el("p", {}, ["header ", el("code", { text: h }), ": " + (resolve(r.headers[h]).description || "")]));
      });
      content(r.content).forEach(function (n) { d.appendChild(n); });
      box.appendChild(d);
    });
    return box;
  }

  function render() {
    var main = document.getElementById("doc"), toc = document.getElementById("toc");
    main.textContent = "";
    document.getElementById("title").textContent = (spec.info && spec.info.title || "API") + " " + (spec.info && spec.info.version || "");
    if (spec.info && spec.info.description) main.appendChild(prose("p", spec.info.description));
    var groups = {}, order = [];
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      ["get", "put", "post", "patch", "delete"].forEach(function (m) {
        if (!item[m]) return;
        var tag = (item[m].tags || ["other"])[0];
        if (!groups[tag]) { groups[tag] = []; order.push(tag); }
        groups[tag].push([path, m, item[m]]);
      });
    });
    var list = el("ul");
    var n = 0;
    order.forEach(function (tag) {
      main.appendChild(el("h2", { id: "tag-" + tag, text: tag }));
      groups[tag].forEach(function (g) {
        var id = "op-" + (g[2].operationId || n);
        n++;
        main.appendChild(operation(g[0], g[1], g[2], id));
        list.appendChild(el("li", {}, [el("a", { href: "#" + id }, [el("span", { class: "method " + g[1], text: g[1] }), g[0]])]));
      });
    });
    toc.appendChild(list);
    main.appendChild(el("h2", { text: "Schemas" }));
    var schemas = (spec.components && spec.components.schemas) || {};
    Object.keys(schemas).forEach(function (name) {
      main.appendChild(el("section", { class: "op", id: "schema-" + name }, [el("h3", { text: name }), schemaTable(schemas[name])]));
    });
  }

  function filter(ev) {
    var q = ev.target.value.toLowerCase();
    document.querySelectorAll("section.op[data-search]").forEach(function (s) {
      s.classList.toggle("hidden", q !== "" && s.getAttribute("data-search").indexOf(q) < 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("filter").addEventListener("input", filter);
    fetch("/v1/openapi.json", { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (j) { spec = j; render(); })
      .catch(function (e) {
        document.getElementById("status").textContent = "Cannot load /v1/openapi.json: " + e.message;
      });
  });
})();
