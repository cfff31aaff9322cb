"use client";

import { useState } from "react";
import { Button } from "./button";
import { Dialog } from "./dialog";
import { Field, Input } from "./field";

/**
 * The guard rail before an action that changes what callers get or removes something: names
 * what will happen, Enter confirms and Esc cancels (focus stays in the dialog). Where the
 * stakes are highest (a production deployment) a name must be typed first.
 */
export function ConfirmDialog({
  open,
  onOpenChange,
  title,
  description,
  consequence,
  typeToConfirm,
  children,
  confirm,
  onConfirm,
  pending,
  danger,
  typeHint = "This deployment serves production traffic.",
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  title: string;
  description: string;
  /** What will happen, in one line ("v3 will serve 100% of credit-prod"). */
  consequence?: string;
  /** A name the person must type before confirming (production deployments). */
  typeToConfirm?: string;
  children?: React.ReactNode;
  confirm: string;
  onConfirm: () => void;
  pending: boolean;
  danger?: boolean;
  /** Why the name must be typed. */
  typeHint?: string;
}) {
  const [typed, setTyped] = useState("");
  const ready = !typeToConfirm || typed.trim() === typeToConfirm;
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        if (!o) setTyped("");
        onOpenChange(o);
      }}
      title={title}
      description={description}
    >
      <form
        className="space-y-4"
        data-testid="confirm-dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (ready && !pending) onConfirm();
        }}
      >
        {consequence && (
          <p className="rounded-md border border-border bg-subtle px-3 py-2 text-sm font-medium" data-testid="confirm-consequence">
            {consequence}
          </p>
        )}
        {children}
        {typeToConfirm && (
          <Field label={`Type ${typeToConfirm} to confirm`} htmlFor="confirm-name" hint={typeHint}>
            <Input
              id="confirm-name"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              autoFocus={!children}
              placeholder={typeToConfirm}
            />
          </Field>
        )}
        <div className="flex justify-end gap-2">
          <Button type="button" variant="ghost" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" variant={danger ? "danger" : "primary"} loading={pending} disabled={!ready} autoFocus={!children && !typeToConfirm}>
            {confirm}
          </Button>
        </div>
        <p className="text-right text-xs text-muted">Enter confirms · Esc cancels</p>
      </form>
    </Dialog>
  );
}

/**
 * A button that asks first: opens a ConfirmDialog naming what will happen and runs
 * `onConfirm` only when confirmed; the dialog closes when it succeeds and stays open (with the
 * mutation's own error message shown elsewhere) when it fails.
 */
export function ConfirmButton({
  children,
  variant = "ghost",
  size = "sm",
  ariaLabel,
  onConfirm,
  ...dialog
}: {
  children: React.ReactNode;
  variant?: "ghost" | "secondary" | "danger" | "primary";
  size?: "sm" | "md";
  ariaLabel?: string;
  title: string;
  description: string;
  consequence?: string;
  typeToConfirm?: string;
  typeHint?: string;
  confirm: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
}) {
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  return (
    <>
      <Button variant={variant} size={size} aria-label={ariaLabel} onClick={() => setOpen(true)}>
        {children}
      </Button>
      <ConfirmDialog
        {...dialog}
        open={open}
        onOpenChange={setOpen}
        pending={pending}
        onConfirm={() => {
          setPending(true);
          onConfirm()
            .then(() => setOpen(false))
            .catch(() => {})
            .finally(() => setPending(false));
        }}
      />
    </>
  );
}
