import { SettingsTabs } from "~/components/shell/settings-tabs";
import { PageHeader } from "~/components/ui/states";

export default function SettingsLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <PageHeader title="Settings" description="Who is in this workspace, what it is called, and how Steward is running." />
      <SettingsTabs />
      {children}
    </>
  );
}
