import ReactMarkdown, { defaultUrlTransform } from "react-markdown";
import remarkGfm from "remark-gfm";
import { MENTION, resolveMention } from "~/server/shared/markdown";

/*
 * Markdown for comments and model cards, rendered inert: raw HTML is dropped (never
 * parsed), links keep only safe protocols (http, https, mailto; javascript: and data: are
 * removed) and open without access to this page, images are shown as links (no tracking
 * pixels or `onerror`), and @mentions are highlighted: as the person's name (e-mail on
 * hover) when `people` knows them.
 */
export function Markdown({ source, className, people = [] }: { source: string; className?: string; people?: { name: string; email: string }[] }) {
  const named = new Map<string, { name: string; email: string }>();
  return (
    <div className={`prose-steward text-sm ${className ?? ""}`}>
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        skipHtml
        urlTransform={(url) => {
          if (/^mention:[^\s]+$/.test(url)) return url;
          const safe = defaultUrlTransform(url);
          return /^(https?:|mailto:|#|\/)/i.test(safe) ? safe : "";
        }}
        components={{
          a: ({ href, children }) =>
            href?.startsWith("mention:") ? (
              <span className="rounded bg-accent/10 px-0.5 font-medium text-accent" title={named.get(href.slice(8))?.email} data-mention={href.slice(8)}>
                {children}
              </span>
            ) : href ? (
              <a href={href} target="_blank" rel="noopener noreferrer nofollow" className="text-accent underline">
                {children}
              </a>
            ) : (
              <span>{children}</span>
            ),
          img: ({ src, alt }) =>
            typeof src === "string" && src ? (
              <a href={src} target="_blank" rel="noopener noreferrer nofollow" className="text-accent underline">
                {alt || "image"}
              </a>
            ) : (
              <span>{alt}</span>
            ),
        }}
      >
        {/* Mentions become links to a "mention:" target, drawn as highlighted names (not mailto links). */}
        {source.replace(MENTION, (all, pre: string, raw: string) => {
          const token = raw.replace(/[.]+$/, "");
          const trail = raw.slice(token.length);
          const person = resolveMention(token, people);
          if (person) named.set(token.toLowerCase(), person);
          // A handle nobody has stays plain text; an e-mail address is highlighted as before.
          if (!person && !token.includes("@")) return all;
          const label = (person?.name ?? token).replace(/([\\[\]*_`])/g, "\\$1");
          return `${pre}[@${label}](mention:${token.toLowerCase()})${trail}`;
        })}
      </ReactMarkdown>
    </div>
  );
}
