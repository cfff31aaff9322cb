import "server-only";
import { z } from "zod";
import { AliasName, RegistryName, VersionNumber } from "~/server/shared/registry.schema";
import { DeploymentName } from "~/server/serving/deployments.service";

/** Path parameters shared by the route files. */
export const Ws = z.object({ workspace: z.string().min(1).max(60) });
export const WsName = Ws.extend({ name: RegistryName });
export const WsNameVersion = WsName.extend({ version: VersionNumber });
export const WsNameAlias = WsName.extend({ alias: AliasName });
export const WsDeployment = Ws.extend({ name: DeploymentName });
export const WsReview = Ws.extend({ number: z.coerce.number().int().positive("number must be the review's number (1, 2, …).") });
/** A uuid path segment, named in its message. */
export const uuidParam = (name: string, what: string) => z.uuid(`${name} must be ${what}'s id.`);
