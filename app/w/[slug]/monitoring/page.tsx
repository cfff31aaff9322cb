import type { Metadata } from "next";
import { MonitoringOverview } from "~/components/monitoring/monitoring-overview-page";

export const metadata: Metadata = { title: "Monitoring" };

export default function Page() {
  return <MonitoringOverview />;
}
