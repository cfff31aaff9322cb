import type { Metadata } from "next";
import { WebhooksSettings } from "~/components/monitoring/webhooks-settings";

export const metadata: Metadata = { title: "Webhooks · Settings" };

export default function Page() {
  return <WebhooksSettings />;
}
