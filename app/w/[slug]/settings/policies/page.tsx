import type { Metadata } from "next";
import { PoliciesSettings } from "~/components/reviews/policies-settings";

export const metadata: Metadata = { title: "Approval policies · Settings" };

export default function Page() {
  return <PoliciesSettings />;
}
