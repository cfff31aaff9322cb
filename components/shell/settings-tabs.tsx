"use client";

import { Tabs } from "./tabs";

export function SettingsTabs() {
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
        { href: "/settings/system", label: "System" },
        { href: "/settings/accounts", label: "Accounts" },
      ]}
    />
  );
}
