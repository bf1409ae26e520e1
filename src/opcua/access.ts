/**
 * Read-only access for every client, enforced by node-opcua's role permissions rather than by
 * each node's access level, so that nodes node-opcua creates later (the diagnostics object of
 * each session, in namespace 1) are read-only too.
 */
import {
  PermissionType,
  WellKnownRoles,
  resolveNodeId,
  type AddressSpace,
  type BaseNode,
  type RolePermissionTypeOptions,
} from "node-opcua";

const readOnly =
  PermissionType.Browse |
  PermissionType.Read |
  PermissionType.ReadRolePermissions |
  PermissionType.ReceiveEvents;

/**
 * The standard Server object's lists of every session and subscription, with the session names,
 * client application URIs and certificates of other clients.
 */
const everySessionNodes = [
  "i=3706", // Server.ServerDiagnostics.SessionsDiagnosticsSummary
  "i=2290", // Server.ServerDiagnostics.SubscriptionDiagnosticsArray
];

/**
 * Makes the address space read-only for every session, and hides the lists of all sessions.
 *
 * node-opcua (2.182.2) gives a user without roles from the user manager the Anonymous role. It
 * checks a node without its own RolePermissions against its namespace's default, and allows
 * everything when there is no default. Its session diagnostics variables have UserAccessLevel CurrentWrite, and
 * writing an empty array to one makes the later DeleteSubscriptions throw out of the event loop.
 * Nodes of the standard nodeset that carry their own RolePermissions grant Write only to
 * ConfigureAdmin or SecurityAdmin, roles no user of this server has.
 */
export function restrictAccess(addressSpace: AddressSpace): void {
  const everyone = (permissions: number): RolePermissionTypeOptions[] =>
    [WellKnownRoles.Anonymous, WellKnownRoles.AuthenticatedUser].map((role) => ({
      roleId: resolveNodeId(role),
      permissions,
    }));
  // The standard namespace keeps Call for its Server methods (GetMonitoredItems, ResendData).
  addressSpace
    .getDefaultNamespace()
    .setDefaultRolePermissions(everyone(readOnly | PermissionType.Call));
  addressSpace.getOwnNamespace().setDefaultRolePermissions(everyone(readOnly));
  for (const nodeId of everySessionNodes) {
    const node: BaseNode | null = addressSpace.findNode(nodeId);
    if (node === null) throw new Error(`opcua: the standard node ${nodeId} is missing`);
    addressSpace.deleteNode(node);
  }
}
