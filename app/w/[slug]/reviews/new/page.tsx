import type { Metadata } from "next";
import { Suspense } from "react";
import { NewReview } from "~/components/reviews/new-review";
import { Skeleton } from "~/components/ui/states";

export const metadata: Metadata = { title: "Request review" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton rows={6} />}>
      <NewReview />
    </Suspense>
  );
}
