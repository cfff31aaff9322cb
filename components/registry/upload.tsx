"use client";

/** Uploads a file to the REST API with progress (fetch has no upload progress; XHR does). */
export function uploadWithProgress(
  url: string,
  file: File,
  metadata: unknown,
  onProgress: (fraction: number) => void,
): Promise<{ ok: boolean; status: number; data: Record<string, unknown> & { error?: { message: string; field?: string } } }> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.set("metadata", JSON.stringify(metadata ?? {}));
    form.set("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("x-steward-client", "web");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(xhr.responseText) as Record<string, unknown>;
      } catch {
        data = { error: { message: "The server sent an unexpected answer." } };
      }
      resolve({ ok: xhr.status < 300, status: xhr.status, data });
    };
    xhr.onerror = () => reject(new Error("The upload failed: the connection was lost."));
    xhr.send(form);
  });
}

export function ProgressBar({ value }: { value: number }) {
  return (
    <div
      className="h-2 w-full overflow-hidden rounded-full bg-subtle"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(value * 100)}
    >
      <div className="h-full bg-accent transition-[width]" style={{ width: `${Math.round(value * 100)}%` }} />
    </div>
  );
}
