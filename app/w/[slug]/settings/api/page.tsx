import type { Metadata } from "next";
import { ApiSettings } from "~/components/settings/api-settings";

export const metadata: Metadata = { title: "API reference · Settings" };

export default function Page() {
  return <ApiSettings />;
}
