// The auditor's console: verify the access log in the browser, trusting nothing the server computed.
//
// 1. The verifier key: the one the auditor pasted, else the one GET /v1/audit/verifier-key serves.
// 2. The latest checkpoint (a C2SP signed note): its Ed25519 signature is checked with WebCrypto.
// 3. Every entry's exact bytes: each leaf hash is SHA-256(0x00 || bytes), the root is the
//    RFC 9162 Merkle tree hash, both computed here with WebCrypto SHA-256.
// 4. When the root differs, the first wrong index is found by bisection: the longest prefix whose
//    root (computed here) the registry can prove consistent with the signed checkpoint ends just
//    before it. A proof is checked here too (RFC 9162 2.1.4.2); a bad one only moves blame earlier.
// The texts shown come from the page (data-* attributes), which has them in the user's language.
"use strict";

(function () {
  const subtle = window.crypto.subtle;
  const enc = new TextEncoder();
  const base = "/console/audit/data";

  function bytesOf(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function fromB64url(text) {
    const std = text.replace(/-/g, "+").replace(/_/g, "/");
    return bytesOf(std + "=".repeat((4 - (std.length % 4)) % 4));
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  async function sha256(data) {
    return new Uint8Array(await subtle.digest("SHA-256", data));
  }
  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // RFC 9162 2.1.1: the tree hash of leaf hashes [0, n), folded from complete subtrees.
  async function rootOf(leaves, n) {
    if (n === 0) return sha256(new Uint8Array(0));
    const stack = []; // [hash, size] of complete subtrees, sizes strictly decreasing
    for (let i = 0; i < n; i++) {
      let hash = leaves[i], size = 1;
      while (stack.length && stack[stack.length - 1][1] === size) {
        const [left] = stack.pop();
        hash = await nodeHash(left, hash);
        size *= 2;
      }
      stack.push([hash, size]);
    }
    let [root] = stack.pop();
    while (stack.length) root = await nodeHash(stack.pop()[0], root);
    return root;
  }

  // RFC 9162 2.1.4.2: does `proof` show the tree of `second` leaves extends that of `first`?
  async function consistent(first, second, proof, firstRoot, secondRoot) {
    if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
    if (first === 0) return proof.length === 0;
    if (first > second || proof.length === 0) return false;
    const path = (first & (first - 1)) === 0 ? [firstRoot, ...proof] : proof.slice();
    let fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
  }

  // C2SP signed-note verifier key: name+hexkeyid+base64(0x01 || 32-byte Ed25519 public key).
  async function parseKey(text) {
    // The base64 key may itself contain "+": the name ends at the first one, the id is 8 hex.
    const parts = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(text.trim());
    if (!parts) throw new Error("the verifier key is not name+id+key");
    const [, name, hexId, b64] = parts;
    const raw = bytesOf(b64);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the verifier key is not an Ed25519 key");
    const id = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
    const hex = Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== hexId) throw new Error("the verifier key's id does not match its key");
    const key = await subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id, key };
  }

  // C2SP checkpoint in a signed note; the signature covers the text up to its final newline.
  async function openNote(note, verifier) {
    const split = note.indexOf("\n\n");
    if (split < 0) throw new Error("the checkpoint is not a signed note");
    const text = note.slice(0, split + 1);
    const lines = text.slice(0, -1).split("\n");
    if (lines.length !== 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Error("the checkpoint text is malformed");
    }
    if (lines[0] !== verifier.name) throw new Error("the checkpoint is for another log");
    let verified = false;
    for (const line of note.slice(split + 2).split("\n")) {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (!m || m[1] !== verifier.name) continue;
      const sig = bytesOf(m[2]);
      if (sig.length !== 68 || !equal(sig.slice(0, 4), verifier.id)) continue;
      verified = await subtle.verify("Ed25519", verifier.key, sig.slice(4), enc.encode(text));
      if (!verified) throw new Error("the checkpoint's signature is invalid");
      break;
    }
    if (!verified) throw new Error("the checkpoint carries no signature by this key");
    const root = bytesOf(lines[2]);
    if (root.length !== 32) throw new Error("the checkpoint's root is not 32 bytes");
    return { size: Number(lines[1]), root };
  }

  async function fetchOk(url, kind) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return kind === "json" ? response.json() : response.text();
  }

  async function verify(pinned, step) {
    const verifier = await parseKey(pinned || (await fetchOk("/v1/audit/verifier-key", "text")));
    step("key", { name: verifier.name });
    const checkpoint = await openNote(await fetchOk(base + "/checkpoint", "text"), verifier);
    step("checkpoint", { size: checkpoint.size });
    const leaves = [];
    let after = null;
    while (leaves.length < checkpoint.size) {
      const q = after === null ? "" : "?after=" + after;
      const page = await fetchOk(base + "/entries" + q, "json");
      for (const item of page.entries) {
        if (item.index >= checkpoint.size) break;
        if (item.index !== leaves.length) return { ok: false, index: leaves.length };
        leaves.push(await leafHash(fromB64url(item.leaf)));
      }
      if (page.next_after === null) break;
      after = page.next_after;
    }
    step("entries", { count: leaves.length });
    const complete = leaves.length === checkpoint.size;
    if (complete && equal(await rootOf(leaves, leaves.length), checkpoint.root)) {
      return { ok: true, size: checkpoint.size };
    }
    // The first wrong index: bisect over prefixes whose consistency the registry can prove.
    let good = 0, bad = leaves.length;
    if (complete) {
      while (bad - good > 1) {
        const mid = Math.floor((good + bad) / 2);
        const proof = await fetchOk(base + "/consistency?first=" + mid + "&second=" + checkpoint.size, "json");
        const hashes = proof.hashes.map(fromB64url);
        const prefix = await rootOf(leaves, mid);
        if (await consistent(mid, checkpoint.size, hashes, prefix, checkpoint.root)) good = mid;
        else bad = mid;
      }
      return { ok: false, index: good };
    }
    return { ok: false, index: leaves.length };
  }

  function say(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  }

  function start() {
    const button = document.getElementById("run-verify");
    const verdict = document.getElementById("verify-verdict");
    const steps = document.getElementById("verify-steps");
    if (!button || !verdict || !steps) return;
    button.disabled = false; // disabled until this script is ready to verify
    button.addEventListener("click", async () => {
      button.disabled = true;
      steps.textContent = "";
      verdict.className = "verdict";
      delete verdict.dataset.result;
      delete verdict.dataset.index;
      verdict.textContent = verdict.dataset.running;
      const step = (name, values) => {
        const li = document.createElement("li");
        li.textContent = say(steps.dataset["step" + name[0].toUpperCase() + name.slice(1)], values);
        steps.appendChild(li);
      };
      try {
        const pinned = document.getElementById("pinned-key").value.trim();
        const result = await verify(pinned, step);
        verdict.dataset.result = result.ok ? "verified" : "failed";
        verdict.dataset.index = result.ok ? "" : String(result.index);
        verdict.className = "verdict " + (result.ok ? "ok" : "bad");
        verdict.textContent = result.ok
          ? say(verdict.dataset.verified, { size: result.size })
          : say(verdict.dataset.failedIndex, { index: result.index });
      } catch (error) {
        verdict.dataset.result = "failed";
        verdict.className = "verdict bad";
        verdict.textContent = say(verdict.dataset.failed, { reason: error.message });
      } finally {
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
