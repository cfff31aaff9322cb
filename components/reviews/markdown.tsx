import ReactMarkdown, { defaultUrlTransform } from "react-markdown";
import remarkGfm from "remark-gfm";
import { MENTION } from "~/server/shared/markdown";

/*
 * Markdown for comments and model cards, rendered inert: raw HTML is dropped (never
 * parsed), links keep only safe protocols (http, https, mailto; javascript: and data: are
 * removed) and open without access to this page, images are shown as links (no tracking
 * pixels or `onerror`), and @mentions of e-mail addresses are highlighted.
 */
export function Markdown({ source, className }: { source: string; className?: string }) {
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
              <span className="rounded bg-accent/10 px-0.5 font-medium text-accent">{children}</span>
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
        {source.replace(MENTION, (_all, pre: string, email: string) => `${pre}[@${email}](mention:${email})`)}
      </ReactMarkdown>
    </div>
  );
}
