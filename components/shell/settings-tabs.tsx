"use client";

import { Tabs } from "./tabs";

export function SettingsTabs() {
  return (
    <Tabs
      label="Settings"
      tabs={[
        { href: "/settings/members", label: "Members" },
        { href: "/settings/general", label: "General" },
        { href: "/settings/tokens", label: "API tokens" },
        { href: "/settings/api", label: "API reference" },
        { href: "/settings/system", label: "System" },
      ]}
    />
  );
}
