import { registerEnumType } from "type-graphql";
import type { Role } from "../../store/store";

export const RoleEnum = { USER: "USER", ADMIN: "ADMIN" } as const satisfies Record<Role, Role>;

registerEnumType(RoleEnum, { name: "Role", description: "What a user may do. ADMIN may manage other users." });
