import type { Metadata } from "next";
import { CheckpointsPage } from "~/components/audit/checkpoints-page";

export const metadata: Metadata = { title: "Signed checkpoints" };

export default function Page() {
  return <CheckpointsPage />;
}
