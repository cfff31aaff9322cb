"use client";

import { useRef, useState } from "react";
import { Button } from "~/components/ui/button";
import type { Member } from "./room-types";
import { mentionHandle } from "~/server/shared/markdown";

// ---------------------------------------------------------------------------
// Comment box with @mention autocomplete
// ---------------------------------------------------------------------------

export function CommentBox({
  members,
  onSubmit,
  onTyping,
  placeholder,
  submitLabel,
  pending,
  initial = "",
  label,
}: {
  members: Member[];
  onSubmit: (body: string) => void;
  onTyping: () => void;
  placeholder: string;
  submitLabel: string;
  pending: boolean;
  initial?: string;
  label: string;
}) {
  const [body, setBody] = useState(initial);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const ref = useRef<HTMLTextAreaElement>(null);
  const matches = query === null ? [] : members.filter((m) => `${m.name} ${m.email}`.toLowerCase().includes(query.toLowerCase())).slice(0, 6);
  const update = (v: string) => {
    setBody(v);
    onTyping();
    const caret = ref.current?.selectionStart ?? v.length;
    const m = /(^|\s)@([\w.+-]*)$/.exec(v.slice(0, caret));
    setQuery(m ? m[2]! : null);
    setActive(0);
  };
  const pick = (m: Member) => {
    const caret = ref.current?.selectionStart ?? body.length;
    const before = body.slice(0, caret).replace(/@([\w.+-]*)$/, `@${mentionHandle(m, members)} `);
    setBody(before + body.slice(caret));
    setQuery(null);
    ref.current?.focus();
  };
  return (
    <form
      className="relative"
      onSubmit={(e) => {
        e.preventDefault();
        if (body.trim()) onSubmit(body);
        setBody("");
      }}
    >
      <textarea
        ref={ref}
        aria-label={label}
        className="h-20 w-full rounded-md border border-border bg-panel p-2 text-sm"
        placeholder={placeholder}
        value={body}
        onChange={(e) => update(e.target.value)}
        onKeyDown={(e) => {
          if (matches.length) {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setActive((a) => (a + 1) % matches.length);
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setActive((a) => (a - 1 + matches.length) % matches.length);
            } else if (e.key === "Enter" || e.key === "Tab") {
              e.preventDefault();
              pick(matches[active]!);
            } else if (e.key === "Escape") setQuery(null);
          } else if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) {
            e.preventDefault();
            if (body.trim()) onSubmit(body);
            setBody("");
          }
        }}
        role="combobox"
        aria-expanded={matches.length > 0}
        aria-controls="mention-list"
        aria-autocomplete="list"
      />
      {matches.length > 0 && (
        <ul id="mention-list" role="listbox" className="absolute z-20 mt-1 w-72 rounded-md border border-border bg-panel py-1 text-sm shadow-lg">
          {matches.map((m, i) => (
            <li
              key={m.id}
              role="option"
              aria-selected={i === active}
              className={`cursor-pointer px-3 py-1.5 ${i === active ? "bg-subtle" : ""}`}
              onMouseDown={(e) => (e.preventDefault(), pick(m))}
            >
              {m.name} <span className="text-xs text-muted">{m.email}</span>
            </li>
          ))}
        </ul>
      )}
      <div className="mt-1 flex items-center justify-between">
        <span className="text-xs text-muted">Markdown · @ to mention · Ctrl+Enter to send</span>
        <Button size="sm" type="submit" loading={pending} disabled={!body.trim()}>
          {submitLabel}
        </Button>
      </div>
    </form>
  );
}
