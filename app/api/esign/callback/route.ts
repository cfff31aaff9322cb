import { esignCallback } from "~/server/web/esign-callback";

export const dynamic = "force-dynamic";
export { esignCallback as GET };
