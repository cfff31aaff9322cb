"use client";

import { UploadCloud } from "lucide-react";
import { useRef, useState } from "react";
import { cn } from "~/components/ui/cn";

export function Dropzone({ accept, file, onFile, label }: { accept: string; file: File | null; onFile: (f: File) => void; label: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  return (
    <div
      role="button"
      tabIndex={0}
      aria-label={label}
      onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && input.current?.click()}
      onClick={() => input.current?.click()}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const f = e.dataTransfer.files[0];
        if (f) onFile(f);
      }}
      className={cn(
        "flex cursor-pointer flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed border-border px-6 py-8 text-center text-sm transition",
        over ? "border-accent bg-accent/5" : "hover:bg-subtle",
      )}
    >
      <UploadCloud className="size-7 text-muted" aria-hidden />
      {file ? (
        <span className="font-medium">{file.name}</span>
      ) : (
        <span>
          <span className="font-medium">Drop a file here</span> or click to choose ({accept})
        </span>
      )}
      <input
        ref={input}
        type="file"
        accept={accept}
        className="hidden"
        data-testid="file-input"
        onChange={(e) => e.target.files?.[0] && onFile(e.target.files[0])}
      />
    </div>
  );
}
