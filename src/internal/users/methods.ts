/**
 * The methods of `event_store.client.users.Users` as the transport takes them (the generated
 * codecs: none of these is on a hot path).
 *
 * @internal
 */
import {
  type ChangePasswordReq,
  type ChangePasswordResp,
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type DetailsReq,
  type DetailsResp,
  type DisableReq,
  type DisableResp,
  type EnableReq,
  type EnableResp,
  type ResetPasswordReq,
  type ResetPasswordResp,
  type UpdateReq,
  type UpdateResp,
  UsersService
} from "../../generated/users.ts"
import type { Method } from "../transport/Transport.ts"

/** `Users.Create`. @internal */
export const Create: Method<CreateReq, CreateResp> = UsersService.create

/** `Users.Update`. @internal */
export const Update: Method<UpdateReq, UpdateResp> = UsersService.update

/** `Users.Delete`. @internal */
export const Delete: Method<DeleteReq, DeleteResp> = UsersService.delete

/** `Users.Enable`. @internal */
export const Enable: Method<EnableReq, EnableResp> = UsersService.enable

/** `Users.Disable`. @internal */
export const Disable: Method<DisableReq, DisableResp> = UsersService.disable

/** `Users.Details` (server streaming: one reply per user). @internal */
export const Details: Method<DetailsReq, DetailsResp> = UsersService.details

/** `Users.ChangePassword`. @internal */
export const ChangePassword: Method<ChangePasswordReq, ChangePasswordResp> = UsersService.changePassword

/** `Users.ResetPassword`. @internal */
export const ResetPassword: Method<ResetPasswordReq, ResetPasswordResp> = UsersService.resetPassword
