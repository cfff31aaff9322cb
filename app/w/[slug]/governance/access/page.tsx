import type { Metadata } from "next";
import { AccessReviewPage } from "~/components/audit/access-review-page";

export const metadata: Metadata = { title: "Access review" };

export default function Page() {
  return <AccessReviewPage />;
}
