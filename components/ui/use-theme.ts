"use client";
import { useTheme } from "next-themes";
import { useSyncExternalStore } from "react";

const subscribe = () => () => undefined;

/**
 * The theme in use, once the page has hydrated: "light" on the server and in the first client
 * render (the server cannot know the visitor's theme), so what hydrates matches what the
 * server sent — reading next-themes' resolvedTheme directly in render made dark-mode pages
 * fail hydration (React error #418). Colours themselves come from the `dark` class on <html>,
 * set before the first paint, so nothing flashes.
 */
export function useResolvedTheme() {
  const { resolvedTheme, setTheme } = useTheme();
  const hydrated = useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
  return { theme: hydrated && resolvedTheme === "dark" ? ("dark" as const) : ("light" as const), setTheme };
}
