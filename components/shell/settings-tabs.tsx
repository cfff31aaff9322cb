"use client";

import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/components/trpc/client";
import { Tabs } from "./tabs";

export function SettingsTabs() {
  const trpc = useTRPC();
  // The server decides (system.status and instance.* refuse everyone else); this only hides the tabs.
  const admin = useQuery(trpc.auth.me.queryOptions()).data?.instanceAdmin ?? false;
  return (
    <Tabs
      label="Settings"
      tabs={[
        { href: "/settings/members", label: "Members" },
        { href: "/settings/general", label: "General" },
        { href: "/settings/policies", label: "Approval policies" },
        { href: "/settings/webhooks", label: "Webhooks" },
        { href: "/settings/tokens", label: "API tokens" },
        { href: "/settings/api", label: "API reference" },
        ...(admin ? [{ href: "/settings/system", label: "System" }] : []),
        { href: "/settings/accounts", label: "Accounts" },
        ...(admin ? [{ href: "/settings/instance", label: "Instance" }] : []),
      ]}
    />
  );
}
