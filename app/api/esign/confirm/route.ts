import { esignConfirm } from "~/server/web/esign-callback";

export const dynamic = "force-dynamic";
export { esignConfirm as POST };
