import type { Metadata } from "next";
import { SystemSettings } from "~/components/settings/system-settings";

export const metadata: Metadata = { title: "System · Settings" };

export default function Page() {
  return <SystemSettings />;
}
