import type { Metadata } from "next";
import { AccountsSettings } from "~/components/reviews/accounts-settings";

export const metadata: Metadata = { title: "Accounts · Settings" };

export default function Page() {
  return <AccountsSettings />;
}
