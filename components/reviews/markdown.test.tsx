import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Markdown } from "./markdown";

const html = (md: string) => renderToStaticMarkup(<Markdown source={md} />);

describe("comment markdown is rendered inert", () => {
  it.each([
    ["<script>alert(1)</script>", /<script/i],
    ['<img src=x onerror="alert(1)">', /<img|onerror/i],
    ["<iframe src=https://evil.example></iframe>", /<iframe/i],
    ['<a href="javascript:alert(1)">x</a>', /javascript:/i],
    ["[click](javascript:alert(1))", /javascript:/i],
    ["[click](JaVaScRiPt:alert(1))", /javascript:/i],
    ["[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", /data:text/i],
    ["![x](https://tracker.example/p.gif)", /<img/i],
    ['<div onclick="alert(1)">hi</div>', /onclick|<div onclick/i],
    ["<style>body{display:none}</style>", /<style/i],
  ])("%s", (payload, forbidden) => {
    const out = html(payload);
    expect(out).not.toMatch(forbidden);
  });

  it("keeps the markdown people write, with safe links and highlighted mentions", () => {
    const out = html("**Bold** and `code`, a [link](https://example.com/x) and @rita@acme.io.\n\n| a | b |\n|---|---|\n| 1 | 2 |");
    expect(out).toContain("<strong>Bold</strong>");
    expect(out).toContain("<code>code</code>");
    expect(out).toContain('href="https://example.com/x"');
    expect(out).toContain('rel="noopener noreferrer nofollow"');
    expect(out).toMatch(/<span class="[^"]*text-accent[^"]*"[^>]*>@rita@acme.io<\/span>\./);
    expect(out).toContain("<table>");
  });

  it("shows mentions as the person's name with the e-mail on hover, by handle or e-mail; an unknown handle stays text", () => {
    const people = [
      { name: "Rita [Risk] Ops", email: "rita@acme.io" },
      { name: "Sam One", email: "sam@acme.io" },
      { name: "Sam Two", email: "sam@other.io" },
    ];
    const out = renderToStaticMarkup(<Markdown source={"@rita, @sam@other.io and @sam: see @nobody."} people={people} />);
    expect(out).toMatch(/<span[^>]*title="rita@acme.io"[^>]*>@Rita \[Risk\] Ops<\/span>,/);
    expect(out).toMatch(/<span[^>]*title="sam@other.io"[^>]*>@Sam Two<\/span>/);
    // "sam" is two people's handle: not resolved, not highlighted; "nobody" is no one's.
    expect(out).toContain("and @sam: see @nobody.");
  });
});
