import { Tabs } from "~/components/shell/tabs";

export default function GovernanceLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <Tabs
        label="Governance"
        tabs={[
          { href: "/governance/audit", label: "Audit trail" },
          { href: "/governance/checkpoints", label: "Signed checkpoints" },
          { href: "/governance/access", label: "Access review" },
          { href: "/governance/inventory", label: "Model inventory" },
        ]}
      />
      {children}
    </>
  );
}
