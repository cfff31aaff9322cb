import "server-only";
import type { RequestMeta } from "~/server/audit/actor";
import { assertSignUpAllowed } from "~/server/instance/settings.service";
import { SignUpInput } from "~/server/shared/identity.schema";
import { signUp, type UserDto } from "./users.service";

/**
 * Sign-up from the public page: the instance's rules first (closed sign-up, allowed
 * domains; see Settings › Instance), then the account. Seeds and tests create accounts
 * through `signUp` directly, as an operator would.
 */
export async function publicSignUp(raw: SignUpInput, meta: RequestMeta = {}): Promise<UserDto> {
  const input = SignUpInput.parse(raw);
  await assertSignUpAllowed(input.email);
  return signUp(input, meta);
}
