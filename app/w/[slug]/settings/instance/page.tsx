import type { Metadata } from "next";
import { InstanceSettings } from "~/components/settings/instance-settings";

export const metadata: Metadata = { title: "Instance · Settings" };

export default function Page() {
  return <InstanceSettings />;
}
