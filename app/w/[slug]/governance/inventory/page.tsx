import type { Metadata } from "next";
import { Suspense } from "react";
import { InventoryPage } from "~/components/governance/inventory-page";
import { Skeleton } from "~/components/ui/states";

export const metadata: Metadata = { title: "Model inventory" };

export default function Page() {
  // useSearchParams (the filters) needs a Suspense boundary.
  return (
    <Suspense fallback={<Skeleton rows={6} />}>
      <InventoryPage />
    </Suspense>
  );
}
