import { getSessionUser } from "~/server/web/auth/session";
import { restEntry } from "~/server/web/rest/entry";

const handler = restEntry(getSessionUser);

export { handler as GET, handler as POST, handler as PUT, handler as PATCH, handler as DELETE };
