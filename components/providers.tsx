"use client";

import { ThemeProvider } from "next-themes";
import { Toaster } from "sonner";
import { TRPCReactProvider } from "~/components/trpc/client";

export function Providers({ children, nonce }: { children: React.ReactNode; nonce?: string }) {
  return (
    <ThemeProvider attribute="class" defaultTheme="system" enableSystem nonce={nonce}>
      <TRPCReactProvider>
        {children}
        <Toaster richColors closeButton position="bottom-right" />
      </TRPCReactProvider>
    </ThemeProvider>
  );
}
