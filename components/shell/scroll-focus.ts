"use client";

import { useEffect } from "react";

/**
 * On a narrow screen a wide table scrolls inside its card (app/globals.css); a keyboard user
 * must be able to reach it to scroll it (WCAG 2.1.1, axe's scrollable-region-focusable). This
 * gives every table under `main` that overflows a tab stop, and takes it away when it fits
 * again — watching the page as it renders and the window as it resizes.
 */
export function useFocusableScrollers() {
  useEffect(() => {
    const main = document.querySelector("main");
    if (!main) return;
    let frame = 0;
    const mark = () => {
      frame = 0;
      for (const t of main.querySelectorAll<HTMLElement>("table, pre")) {
        const scrolls = t.scrollWidth > t.clientWidth + 1;
        if (scrolls && !t.hasAttribute("tabindex")) {
          t.setAttribute("tabindex", "0");
          t.dataset.scrollFocus = "1";
        } else if (!scrolls && t.dataset.scrollFocus) {
          t.removeAttribute("tabindex");
          delete t.dataset.scrollFocus;
        }
      }
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(mark);
    };
    const observer = new MutationObserver(schedule);
    observer.observe(main, { childList: true, subtree: true });
    window.addEventListener("resize", schedule);
    schedule();
    return () => {
      observer.disconnect();
      window.removeEventListener("resize", schedule);
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);
}
